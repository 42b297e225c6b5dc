package io.quire.server.repository;

/** Model states as Triton's repository index names them. */
public enum ModelState {
  READY,
  UNAVAILABLE,
  LOADING,
  UNLOADING
}
