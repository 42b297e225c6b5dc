package io.quire.jinja;

import java.util.List;

/** A Python tuple: like a list, but printed with parentheses. */
record PyTuple(List<Object> items) {}
