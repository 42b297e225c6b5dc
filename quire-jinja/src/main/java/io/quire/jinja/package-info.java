/**
 * Jinja2 for Hugging Face chat templates, rendering byte for byte as Python jinja2 3.1 does under
 * transformers' settings. Entry point: {@link io.quire.jinja.ChatTemplate}.
 *
 * <p>Pipeline: {@code Lexer} (tokens, trim_blocks/lstrip_blocks whitespace rules) → {@code Parser}
 * (jinja2's grammar and precedence, into {@code Node}/{@code Expr} records) → {@code Interpreter}
 * (scopes, loops, macros) over Python value semantics in {@code Python}, {@code Methods},
 * {@code Filters}, {@code Tests} and {@code Json}. Goldens: tools/oracle/chat_template_goldens.py.
 */
package io.quire.jinja;
