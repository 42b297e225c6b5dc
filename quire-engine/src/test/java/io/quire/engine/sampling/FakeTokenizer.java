package io.quire.engine.sampling;

import io.quire.tokenizer.IncrementalDetokenizer;
import io.quire.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;

/** A stand-in for the tokenizer dependency: id i decodes to pieces[i]; some ids are special. */
final class FakeTokenizer implements Tokenizer {
  private final String[] pieces;
  private final Set<Integer> special;
  private final int eos;

  FakeTokenizer(String[] pieces, Set<Integer> special, int eos) {
    this.pieces = pieces;
    this.special = special;
    this.eos = eos;
  }

  @Override
  public int[] encode(String text, boolean addSpecialTokens) {
    throw new UnsupportedOperationException();
  }

  @Override
  public String decode(int[] ids, boolean skipSpecialTokens) {
    StringBuilder sb = new StringBuilder();
    for (int id : ids) if (!(skipSpecialTokens && special.contains(id))) sb.append(pieces[id]);
    return sb.toString();
  }

  @Override
  public IncrementalDetokenizer newDetokenizer(int[] promptIds, boolean skipSpecialTokens) {
    return new IncrementalDetokenizer() {
      private final StringBuilder text = new StringBuilder();

      @Override
      public String add(int tokenId) {
        String piece = skipSpecialTokens && special.contains(tokenId) ? "" : pieces[tokenId];
        text.append(piece);
        return piece;
      }

      @Override
      public String text() {
        return text.toString();
      }
    };
  }

  @Override
  public int vocabSize() {
    return pieces.length;
  }

  @Override
  public String idToToken(int id) {
    return id >= 0 && id < pieces.length ? pieces[id] : null;
  }

  @Override
  public OptionalInt tokenToId(String token) {
    for (int i = 0; i < pieces.length; i++) if (pieces[i].equals(token)) return OptionalInt.of(i);
    return OptionalInt.empty();
  }

  @Override
  public boolean isSpecial(int id) {
    return special.contains(id);
  }

  @Override
  public OptionalInt bosTokenId() {
    return OptionalInt.empty();
  }

  @Override
  public OptionalInt eosTokenId() {
    return eos < 0 ? OptionalInt.empty() : OptionalInt.of(eos);
  }

  @Override
  public String chatTemplate() {
    return null;
  }

  @Override
  public String bosToken() {
    return null;
  }

  @Override
  public String eosToken() {
    return eos < 0 ? null : pieces[eos];
  }

  @Override
  public List<Integer> specialTokenIds() {
    return new ArrayList<>(special);
  }
}
