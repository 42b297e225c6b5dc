package io.quire.tokenizer;

/** The stages of a tokenizer.json between added-token splitting and the final ids. */
record Pipeline(
    Normalizer normalizer, PreTokenizer preTokenizer, BpeModel model, PostProcessor postProcessor, Decoder decoder) {

  Pipeline withPostProcessor(PostProcessor p) {
    return new Pipeline(normalizer, preTokenizer, model, p, decoder);
  }
}
