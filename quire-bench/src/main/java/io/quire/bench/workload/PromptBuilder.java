package io.quire.bench.workload;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Builds prompts of an exact token count from common English words. A word preceded by a space
 * is one token in the BPE and sentencepiece vocabularies of Llama-family models, so the builder
 * adds or removes words and re-counts until the tokenizer gives the target.
 */
public final class PromptBuilder {
  private static final String[] WORDS = ("the of and to in is was he for it with as his on be at by had not are but from"
      + " or have an they which one you were her all she there would their we him been has when who will more no if"
      + " out so said what up its about into than them can only other new some could time these two may then do first"
      + " any my now such like our over man me even most made after also did many before must through back years where"
      + " much your way well down should because each just those people how too little state good very make world still"
      + " own see men work long get here between both life being under never day same another know while last might us"
      + " great old year off come since against go came right used take three").split(" ");

  private final TokenCounter counter;
  private final List<String> pool;
  private final int overhead;

  public PromptBuilder(TokenCounter counter) {
    this.counter = counter;
    int one = counter.count(WORDS[0]);
    int perWord = counter.count(WORDS[0] + " " + WORDS[0]) - one;
    if (perWord != 1) throw new IllegalStateException("the tokenizer splits the word '" + WORDS[0] + "' into " + perWord + " tokens");
    this.overhead = one - 1;
    // Usually one call shows every word to be a single token; otherwise test them one by one.
    if (counter.count(String.join(" ", WORDS)) == overhead + WORDS.length) {
      pool = List.of(WORDS);
    } else {
      List<String> p = new ArrayList<>();
      for (String w : WORDS) if (counter.count(WORDS[0] + " " + w) == one + 1) p.add(w);
      pool = List.copyOf(p);
    }
  }

  /** Tokens the server adds to every prompt (BOS): the shortest prompt is this plus one. */
  public int overhead() {
    return overhead;
  }

  /** A prompt of exactly {@code tokens} tokens; {@code rng} picks the words. */
  public String build(int tokens, Random rng) {
    if (tokens < overhead + 1) {
      throw new IllegalArgumentException("input length " + tokens + " is too short: this tokenizer adds " + overhead
          + " special token(s), so the shortest prompt is " + (overhead + 1));
    }
    List<String> words = new ArrayList<>();
    for (int i = 0; i < tokens - overhead; i++) words.add(pick(rng));
    int got = 0;
    for (int attempt = 0; attempt < 8; attempt++) {
      String text = String.join(" ", words);
      got = counter.count(text);
      if (got == tokens) return text;
      if (got < tokens) {
        for (int i = got; i < tokens; i++) words.add(pick(rng));
      } else {
        for (int i = tokens; i < got && words.size() > 1; i++) words.removeLast();
      }
    }
    throw new IllegalStateException("could not build a prompt of exactly " + tokens + " tokens with this tokenizer (closest: " + got + ")");
  }

  private String pick(Random rng) {
    return pool.get(rng.nextInt(pool.size()));
  }
}
