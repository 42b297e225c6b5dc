package io.quire.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.models.DummyWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** A servable HF folder from the committed fixtures: testdata/models/NAME config, DummyWeights seed 0, its real tokenizer. */
public final class Fixtures {
  private Fixtures() {}

  public static Path testdata() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.isDirectory(p.resolve("testdata/models"))) p = p.getParent();
    if (p == null) throw new IllegalStateException("testdata/ not found above " + Path.of("").toAbsolutePath());
    return p.resolve("testdata");
  }

  public static Path hfFolder(String name, Path dir) throws IOException {
    Path fixture = testdata().resolve("models").resolve(name);
    ObjectNode config = (ObjectNode) new ObjectMapper().readTree(fixture.resolve("config.json").toFile());
    DummyWeights.write(dir, config, 0, 1L << 30);
    String tok = Files.readString(fixture.resolve("tokenizer.txt")).trim();
    Path tdir = testdata().resolve("tokenizers").resolve(tok);
    Files.copy(tdir.resolve("tokenizer.json.gz"), dir.resolve("tokenizer.json.gz"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(tdir.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"), StandardCopyOption.REPLACE_EXISTING);
    return dir;
  }
}
