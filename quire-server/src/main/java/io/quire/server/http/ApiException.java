package io.quire.server.http;

/**
 * A request the server refuses, with the HTTP status and a message naming the field. Each protocol
 * renders it in its own error format (Triton: {@code {"error": "..."}}; OpenAI: an error object).
 */
public final class ApiException extends RuntimeException {
  private final int status;
  private final String param;

  public ApiException(int status, String message) {
    this(status, message, null);
  }

  public ApiException(int status, String message, String param) {
    super(message, null, false, false);
    this.status = status;
    this.param = param;
  }

  public static ApiException badRequest(String message) {
    return new ApiException(400, message);
  }

  public static ApiException badParam(String param, String message) {
    return new ApiException(400, message, param);
  }

  public int status() {
    return status;
  }

  /** The request field at fault, or null. */
  public String param() {
    return param;
  }
}
