package io.quire.models;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the repository's testdata/ folder from a module's working directory. */
final class TestData {
  static Path root() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.isDirectory(p.resolve("testdata"))) p = p.getParent();
    if (p == null) throw new IllegalStateException("testdata/ not found above " + Path.of("").toAbsolutePath());
    return p.resolve("testdata");
  }
}
