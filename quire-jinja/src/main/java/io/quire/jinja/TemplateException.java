package io.quire.jinja;

/**
 * A template failed to compile or render. Carries the message of {@code raise_exception(msg)}
 * verbatim, so a server can return it to the client (transformers raises jinja2's TemplateError).
 */
public class TemplateException extends RuntimeException {
  public TemplateException(String message) {
    super(message);
  }
}
