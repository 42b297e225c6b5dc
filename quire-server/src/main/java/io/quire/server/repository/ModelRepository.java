package io.quire.server.repository;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quire.engine.EngineConfig;
import io.quire.server.repository.proto.ModelConfig;
import io.quire.server.repository.proto.ModelInstanceGroup;
import io.quire.server.repository.proto.ModelParameter;
import io.quire.server.repository.proto.ModelVersionPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Triton's model repository: {@code DIR/<model>/config.pbtxt} and version folders
 * {@code DIR/<model>/<n>/} holding {@code model.json} and/or the HF files. One bad model is
 * UNAVAILABLE with its reason; the others keep serving. Also serves a single HF folder
 * ({@code --model}) as a model with the default vLLM-backend config.
 */
public final class ModelRepository implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ModelRepository.class.getName());
  private static final Pattern VERSION_DIR = Pattern.compile("[0-9]{1,18}");
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Where models come from and how to run them. */
  public record Options(String device, Map<String, String> env) {}

  /** A row of {@code /v2/repository/index}. */
  public record IndexEntry(String name, String version, ModelState state, String reason) {}

  private final Path root;
  private final Path singleModel;
  private final String singleModelName;
  private final Map<String, Object> singleModelArgs;
  private final Options options;
  private final EngineLauncher launcher;
  private final Map<String, Entry> models = new ConcurrentHashMap<>();

  private static final class Entry {
    volatile ModelState state = ModelState.UNAVAILABLE;
    volatile String reason = "unloaded";
    volatile NavigableMap<Long, ServedModel> versions = Collections.emptyNavigableMap();
  }

  private ModelRepository(Path root, Path singleModel, String singleModelName, Map<String, Object> singleModelArgs,
      Options options, EngineLauncher launcher) {
    this.root = root;
    this.singleModel = singleModel;
    this.singleModelName = singleModelName;
    this.singleModelArgs = singleModelArgs;
    this.options = options;
    this.launcher = launcher;
  }

  public static ModelRepository ofDirectory(Path root, Options options, EngineLauncher launcher) throws IOException {
    Path r = root.toAbsolutePath().normalize();
    if (!Files.isDirectory(r)) throw new IOException("model repository " + root + " is not a directory");
    return new ModelRepository(r, null, null, Map.of(), options, launcher);
  }

  /** One HF folder served as {@code name}; {@code engineArgs} as a model.json would give them. */
  public static ModelRepository ofModelFolder(Path hfDir, String name, Map<String, Object> engineArgs, Options options,
      EngineLauncher launcher) {
    Path d = hfDir.toAbsolutePath().normalize();
    String n = name != null ? name : d.getFileName().toString();
    return new ModelRepository(null, d, n, Map.copyOf(engineArgs), options, launcher);
  }

  /** Model names the repository holds (directories with config.pbtxt, or the single model). */
  public List<String> modelNames() {
    if (singleModel != null) return List.of(singleModelName);
    try (Stream<Path> s = Files.list(root)) {
      return s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("."))
          .sorted().toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  public void loadAll() {
    for (String n : modelNames()) {
      try {
        load(n);
      } catch (ModelNotFoundException ignored) {
        // listed a moment ago; gone now
      }
    }
  }

  /**
   * Loads (or reloads) a model. Returns normally when it is READY; throws
   * {@link InvalidModelException} with the reason when it is not (the model is then UNAVAILABLE).
   */
  public void load(String name) throws ModelNotFoundException {
    Path dir = modelDir(name);
    Entry e = models.computeIfAbsent(name, k -> new Entry());
    synchronized (e) {
      closeVersions(e);
      e.state = ModelState.LOADING;
      e.reason = "";
      try {
        e.versions = singleModel != null ? loadSingle() : loadFromRepository(name, dir);
        e.state = ModelState.READY;
        LOG.info(() -> "model '" + name + "' READY (versions " + e.versions.keySet() + ")");
      } catch (InvalidModelException ex) {
        e.state = ModelState.UNAVAILABLE;
        e.reason = ex.getMessage();
        LOG.warning(() -> "model '" + name + "' UNAVAILABLE: " + ex.getMessage());
      } catch (RuntimeException | Error ex) {
        e.state = ModelState.UNAVAILABLE;
        e.reason = "failed to start the engine: " + ex;
        LOG.log(Level.WARNING, "model '" + name + "' failed to start", ex);
      }
    }
  }

  public void unload(String name) throws ModelNotFoundException {
    Entry e = models.get(name);
    if (e == null) {
      modelDir(name);
      return;
    }
    synchronized (e) {
      e.state = ModelState.UNLOADING;
      closeVersions(e);
      e.state = ModelState.UNAVAILABLE;
      e.reason = "unloaded";
    }
  }

  /** The model's state and reason; null state if it was never loaded. */
  public IndexEntry status(String name) {
    Entry e = models.get(name);
    return e == null ? null : new IndexEntry(name, "", e.state, e.reason);
  }

  /**
   * The ready model version: the newest when {@code version} is null or empty.
   *
   * @throws ModelNotFoundException unknown model or version (404), or a named version not ready (503)
   */
  public ServedModel get(String name, String version) throws ModelNotFoundException {
    Entry e = models.get(name);
    if (e == null || e.state != ModelState.READY || e.versions.isEmpty()) {
      // Triton's messages and codes: a model it never loaded is "not found" (404); one whose
      // versions all failed or are loading "has no available versions" (404); a named version of
      // such a model "is not at ready state" (503). The reason is appended.
      if (e == null) {
        throw new ModelNotFoundException("Request for unknown model: '" + name + "' is not found"
            + (modelNames().contains(name) ? " (it is in the repository but not loaded)" : ""));
      }
      String why = e.reason == null || e.reason.isEmpty() ? "" : ": " + e.reason;
      if (version != null && !version.isEmpty()) {
        throw new ModelNotFoundException(
            "Request for unknown model: '" + name + "' version " + version + " is not at ready state" + why, 503);
      }
      throw new ModelNotFoundException("Request for unknown model: '" + name + "' has no available versions" + why);
    }
    if (version == null || version.isEmpty()) return e.versions.lastEntry().getValue();
    ServedModel m = null;
    if (VERSION_DIR.matcher(version).matches()) m = e.versions.get(Long.parseLong(version));
    if (m == null) {
      throw new ModelNotFoundException(
          "Request for unknown model: '" + name + "' version " + version + " is not found");
    }
    return m;
  }

  /** Every ready model version, for /v1/models and /metrics. */
  public List<ServedModel> ready() {
    List<ServedModel> out = new ArrayList<>();
    for (String n : new TreeMap<>(models).keySet()) {
      Entry e = models.get(n);
      if (e.state == ModelState.READY) out.addAll(e.versions.values());
    }
    return out;
  }

  public boolean allReady() {
    return models.values().stream().allMatch(e -> e.state == ModelState.READY || "unloaded".equals(e.reason));
  }

  /** {@code /v2/repository/index}: every model in the repository, loaded or not. */
  public List<IndexEntry> index() {
    List<IndexEntry> out = new ArrayList<>();
    List<String> names = new ArrayList<>(modelNames());
    for (String n : models.keySet()) if (!names.contains(n)) names.add(n);
    Collections.sort(names);
    for (String n : names) {
      Entry e = models.get(n);
      if (e == null) {
        out.add(new IndexEntry(n, "", null, ""));
      } else if (e.state == ModelState.READY) {
        for (var v : e.versions.entrySet()) out.add(new IndexEntry(n, Long.toString(v.getKey()), ModelState.READY, ""));
      } else {
        out.add(new IndexEntry(n, "", e.state, e.reason));
      }
    }
    return out;
  }

  @Override
  public void close() {
    for (Entry e : models.values()) {
      synchronized (e) {
        closeVersions(e);
        e.state = ModelState.UNAVAILABLE;
        e.reason = "server shutting down";
      }
    }
  }

  private static void closeVersions(Entry e) {
    for (ServedModel m : e.versions.values()) {
      try {
        m.close();
      } catch (RuntimeException ex) {
        LOG.log(Level.WARNING, "closing model '" + m.name() + "'", ex);
      }
    }
    e.versions = Collections.emptyNavigableMap();
  }

  /** The model's directory; a name that is not a plain child of the repository is refused. */
  private Path modelDir(String name) throws ModelNotFoundException {
    if (singleModel != null) {
      if (!name.equals(singleModelName)) {
        throw new ModelNotFoundException("failed to load '" + name + "', no such model (serving only '"
            + singleModelName + "')");
      }
      return singleModel;
    }
    if (name == null || name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("/")
        || name.contains("\\") || name.indexOf('\0') >= 0) {
      throw new ModelNotFoundException("failed to load '" + name + "', invalid model name", 400);
    }
    Path dir;
    try {
      dir = root.resolve(name).normalize();
    } catch (java.nio.file.InvalidPathException ex) {
      throw new ModelNotFoundException("failed to load '" + name + "', invalid model name", 400);
    }
    if (!root.equals(dir.getParent()) || !Files.isDirectory(dir)) {
      throw new ModelNotFoundException(
          "failed to load '" + name + "', failed to poll from model repository: no directory '" + name + "'");
    }
    return dir;
  }

  private NavigableMap<Long, ServedModel> loadSingle() throws InvalidModelException {
    ModelConfig cfg = ModelConfigs.complete(ModelConfig.newBuilder().setBackend("vllm").build(), singleModelName);
    requireHfFolder(singleModel, "--model " + singleModel);
    EngineArgs args = EngineArgs.resolve(singleModelArgs, Map.of(), options.env());
    TreeMap<Long, ServedModel> out = new TreeMap<>();
    out.put(1L, start(singleModelName, "1", cfg, singleModel, args));
    return out;
  }

  private NavigableMap<Long, ServedModel> loadFromRepository(String name, Path dir) throws InvalidModelException {
    Path pbtxt = dir.resolve("config.pbtxt");
    if (!Files.isRegularFile(pbtxt)) throw new InvalidModelException("missing config.pbtxt in " + name + "/");
    ModelConfig cfg = ModelConfigs.complete(ModelConfigs.read(pbtxt), name);
    NavigableMap<Long, Path> all = new TreeMap<>();
    try (Stream<Path> s = Files.list(dir)) {
      s.filter(Files::isDirectory).forEach(p -> {
        String f = p.getFileName().toString();
        if (VERSION_DIR.matcher(f).matches()) all.put(Long.parseLong(f), p);
      });
    } catch (IOException ex) {
      throw new InvalidModelException("cannot list " + name + "/: " + ex.getMessage());
    }
    if (all.isEmpty()) {
      // The seed's layout keeps the model files next to config.pbtxt: serve them as version 1.
      if (Files.isRegularFile(dir.resolve("model.json")) || Files.isRegularFile(dir.resolve("config.json"))) {
        all.put(1L, dir);
      } else {
        throw new InvalidModelException("no version directory (for example " + name + "/1/) holding model.json or HF files");
      }
    }
    NavigableMap<Long, Path> chosen = choose(all, cfg.getVersionPolicy(), name);
    TreeMap<Long, ServedModel> out = new TreeMap<>();
    try {
      for (var v : chosen.entrySet()) {
        EngineArgs args = EngineArgs.resolve(readModelJson(v.getValue(), name, v.getKey()), parameters(cfg), options.env());
        Path modelDir = modelFiles(v.getValue(), args, name, v.getKey());
        out.put(v.getKey(), start(name, Long.toString(v.getKey()), cfg, modelDir, args));
      }
    } catch (InvalidModelException | RuntimeException | Error ex) {
      out.values().forEach(ServedModel::close);
      throw ex;
    }
    return out;
  }

  private static NavigableMap<Long, Path> choose(NavigableMap<Long, Path> all, ModelVersionPolicy p, String name)
      throws InvalidModelException {
    return switch (p.getPolicyChoiceCase()) {
      case ALL -> all;
      case SPECIFIC -> {
        TreeMap<Long, Path> m = new TreeMap<>();
        for (long v : p.getSpecific().getVersionsList()) {
          Path d = all.get(v);
          if (d == null) throw new InvalidModelException("version_policy names version " + v + " but " + name + "/" + v + "/ does not exist");
          m.put(v, d);
        }
        yield m;
      }
      case LATEST, POLICYCHOICE_NOT_SET -> {
        int n = p.hasLatest() && p.getLatest().getNumVersions() > 0 ? p.getLatest().getNumVersions() : 1;
        TreeMap<Long, Path> m = new TreeMap<>();
        for (var e : all.descendingMap().entrySet()) {
          if (m.size() == n) break;
          m.put(e.getKey(), e.getValue());
        }
        yield m;
      }
    };
  }

  private static Map<String, String> parameters(ModelConfig cfg) {
    Map<String, String> m = new LinkedHashMap<>();
    for (Map.Entry<String, ModelParameter> e : cfg.getParametersMap().entrySet()) {
      m.put(e.getKey(), e.getValue().getStringValue());
    }
    return m;
  }

  private static Map<String, Object> readModelJson(Path versionDir, String name, long version) throws InvalidModelException {
    Path f = versionDir.resolve("model.json");
    if (!Files.isRegularFile(f)) return Map.of();
    String where = name + "/" + version + "/model.json";
    JsonNode n;
    try {
      n = JSON.readTree(f.toFile());
    } catch (IOException ex) {
      throw new InvalidModelException("invalid JSON in " + where + ": " + ex.getMessage());
    }
    if (n == null || !n.isObject()) throw new InvalidModelException(where + " must be a JSON object");
    Map<String, Object> m = new LinkedHashMap<>();
    for (var it = n.properties().iterator(); it.hasNext(); ) {
      var e = it.next();
      JsonNode v = e.getValue();
      if (v.isValueNode() && !v.isNull()) m.put(e.getKey(), v.asText());
      else if (EngineArgs.KNOWN.contains(e.getKey()) && !v.isNull()) {
        throw new InvalidModelException(where + ": " + e.getKey() + " must be a string, number or boolean");
      }
    }
    return m;
  }

  /** The HF folder of a version: model.json's "model" (relative to the version folder) or the folder itself. */
  private static Path modelFiles(Path versionDir, EngineArgs args, String name, long version) throws InvalidModelException {
    if (args.model() == null || args.model().isEmpty()) {
      if (!Files.isRegularFile(versionDir.resolve("config.json"))) {
        throw new InvalidModelException("version " + version + " of '" + name
            + "' has neither a model.json naming \"model\" nor HF files (config.json)");
      }
      return requireHfFolder(versionDir, name + "/" + version + "/");
    }
    Path p;
    try {
      p = versionDir.resolve(args.model()).normalize();
    } catch (java.nio.file.InvalidPathException ex) {
      throw new InvalidModelException("model.json \"model\" is not a valid path: " + args.model());
    }
    if (!Files.isDirectory(p)) {
      throw new InvalidModelException("model.json \"model\" names " + args.model()
          + ", which is not a local directory (downloading from the Hugging Face Hub is not supported)");
    }
    return requireHfFolder(p, "model.json \"model\" " + args.model());
  }

  private static Path requireHfFolder(Path dir, String what) throws InvalidModelException {
    if (!Files.isRegularFile(dir.resolve("config.json"))) throw new InvalidModelException(what + ": missing config.json");
    if (!Files.isRegularFile(dir.resolve("tokenizer.json")) && !Files.isRegularFile(dir.resolve("tokenizer.json.gz"))) {
      throw new InvalidModelException(what + ": missing tokenizer.json");
    }
    boolean weights;
    try (Stream<Path> s = Files.list(dir)) {
      weights = s.anyMatch(p -> p.getFileName().toString().endsWith(".safetensors"));
    } catch (IOException ex) {
      throw new InvalidModelException(what + ": cannot list: " + ex.getMessage());
    }
    if (!weights) throw new InvalidModelException(what + ": no *.safetensors weights");
    return dir;
  }

  private ServedModel start(String name, String version, ModelConfig cfg, Path modelDir, EngineArgs args)
      throws InvalidModelException {
    String backend = pickBackend(cfg);
    EngineConfig ec = args.toEngineConfig(modelDir, backend, cfg.getMaxBatchSize());
    EngineLauncher.Launched l;
    try {
      l = launcher.launch(ec, backend, args.enforceEager());
    } catch (IllegalArgumentException ex) {
      throw new InvalidModelException("invalid engine arguments: " + ex.getMessage());
    }
    return new ServedModel(name, version, cfg, l.engine(), backend, l.backend());
  }

  /** instance_group kind and --device pick the backend; KIND_GPU without a GPU is an error. */
  private String pickBackend(ModelConfig cfg) throws InvalidModelException {
    ModelInstanceGroup.Kind kind = ModelInstanceGroup.Kind.KIND_AUTO;
    for (ModelInstanceGroup g : cfg.getInstanceGroupList()) {
      if (g.getCount() < 0) throw new InvalidModelException("instance_group count must be >= 0, got " + g.getCount());
      if (g.getKind() != ModelInstanceGroup.Kind.KIND_AUTO) kind = g.getKind();
      if (g.getKind() == ModelInstanceGroup.Kind.KIND_CPU && g.getGpusCount() > 0) {
        throw new InvalidModelException("instance_group with kind KIND_CPU cannot list gpus");
      }
    }
    String device = options.device() == null ? "auto" : options.device();
    return switch (kind) {
      case KIND_GPU -> {
        if (device.equals("cpu")) {
          throw new InvalidModelException("instance_group kind KIND_GPU, but the server runs with --device cpu");
        }
        if (!launcher.available("cuda")) {
          throw new InvalidModelException("instance_group kind KIND_GPU needs a GPU, but the cuda backend is unavailable: "
              + launcher.unavailableReason("cuda") + " (set kind: KIND_CPU to run on the CPU)");
        }
        yield "cuda";
      }
      case KIND_CPU -> "cpu";
      default -> {
        if (device.equals("cuda") && !launcher.available("cuda")) {
          throw new InvalidModelException("--device cuda, but the cuda backend is unavailable: " + launcher.unavailableReason("cuda"));
        }
        yield device.equals("cpu") ? "cpu" : launcher.available("cuda") ? "cuda" : "cpu";
      }
    };
  }
}
