package io.quire.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.quire.engine.CompletionDelta;
import io.quire.engine.FinishReason;
import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class OutputProcessorTest {
  static final int EOS = 0;
  static final int HELLO = 1;
  static final int WOR = 2;
  static final int LD = 3;
  static final int BANG = 4;
  static final int S = 5;
  static final int TOP = 6;
  static final int END = 7; // generation_config's second eos
  static final int LD_BANG = 8;
  static final int X = 9;

  static final String[] PIECES = {"</s>", "Hello", " wor", "ld", "!", " S", "TOP", "<|end|>", "ld!!", "x"};
  static final FakeTokenizer TOKENIZER = new FakeTokenizer(PIECES, Set.of(EOS, END), EOS);
  static final OutputProcessor OUTPUTS = new OutputProcessor(TOKENIZER, List.of(EOS, END), 64);

  /** Feeds tokens until the sequence finishes; returns every delta. */
  static List<CompletionDelta> run(SamplingParams params, int... tokens) {
    SequenceOutput seq = OUTPUTS.newSequence(0, new int[] {X}, params);
    List<CompletionDelta> deltas = new ArrayList<>();
    for (int t : tokens) {
      deltas.add(seq.append(t, null));
      if (seq.isFinished()) break;
    }
    return deltas;
  }

  static String text(List<CompletionDelta> deltas) {
    StringBuilder sb = new StringBuilder();
    deltas.forEach(d -> sb.append(d.newText()));
    return sb.toString();
  }

  static CompletionDelta last(List<CompletionDelta> deltas) {
    return deltas.get(deltas.size() - 1);
  }

  static SamplingParams.Builder params() {
    return SamplingParams.builder().maxTokens(50);
  }

  @Test
  void stopStringAcrossTokenBoundariesIsCutWithWhatFollowsIt() {
    var d = run(params().stop("world").build(), HELLO, WOR, LD_BANG, HELLO);
    assertEquals(3, d.size(), "finished on the token completing the stop string");
    assertEquals("Hello ", text(d));
    assertEquals(FinishReason.STOP, last(d).finishReason());
    assertEquals("world", last(d).stopReason());
    assertArrayEquals(new int[] {LD_BANG}, last(d).newTokenIds());
  }

  @Test
  void includeStopStrInOutputKeepsTheStopStringButDropsWhatFollows() {
    var d = run(params().stop("world").includeStopStrInOutput(true).build(), HELLO, WOR, LD_BANG);
    assertEquals("Hello world", text(d));
    assertEquals("world", last(d).stopReason());
    assertEquals(List.of("Hello", " wor", "ld"), d.stream().map(CompletionDelta::newText).toList(), "nothing held back");
  }

  @Test
  void textThatMayBecomeAStopStringIsHeldBackAndReleasedWhenItCannot() {
    var d = run(params().stop(" Sx", "!!!").build(), HELLO, S, TOP, BANG, BANG, HELLO, EOS);
    assertEquals(
        List.of("Hello", "", " STOP", "", "", "!!Hello", ""),
        d.stream().map(CompletionDelta::newText).toList());
    assertEquals(FinishReason.STOP, last(d).finishReason());
    assertNull(last(d).stopReason(), "EOS has no stop_reason");
  }

  @Test
  void heldBackTextIsReleasedWhenTheSequenceEnds() {
    var d = run(params().stop(" Sx").maxTokens(2).build(), HELLO, S);
    assertEquals(List.of("Hello", " S"), d.stream().map(CompletionDelta::newText).toList());
    assertEquals(FinishReason.LENGTH, last(d).finishReason());

    SequenceOutput seq = OUTPUTS.newSequence(0, new int[] {X}, params().stop(" Sx").build());
    assertEquals("Hello", seq.append(HELLO, null).newText());
    assertEquals("", seq.append(S, null).newText());
    CompletionDelta aborted = seq.abort();
    assertEquals(" S", aborted.newText());
    assertEquals(FinishReason.ABORT, aborted.finishReason());
    assertThrows(IllegalStateException.class, () -> seq.append(HELLO, null));

    SequenceOutput capped = OUTPUTS.newSequence(0, new int[] {X}, params().stop(" Sx").build());
    capped.append(S, null);
    CompletionDelta end = capped.finish(FinishReason.LENGTH);
    assertEquals(" S", end.newText());
    assertEquals(FinishReason.LENGTH, capped.finishReason());
  }

  @Test
  void earliestCompletingStopStringWins() {
    var d = run(params().stop("d!!", "rld").build(), HELLO, WOR, LD_BANG);
    assertEquals("rld", last(d).stopReason(), "ends before d!! although listed after it");
    assertEquals("Hello wo", text(d));
  }

  @Test
  void eosStopsWithoutItsText() {
    var d = run(params().skipSpecialTokens(false).build(), HELLO, EOS, HELLO);
    assertEquals(2, d.size());
    assertEquals("Hello", text(d), "the EOS text is not part of the output");
    assertArrayEquals(new int[] {EOS}, last(d).newTokenIds(), "but its id is");
    assertEquals(FinishReason.STOP, last(d).finishReason());
    assertNull(last(d).stopReason());
  }

  @Test
  void generationConfigEosStopsAsAStopTokenId() {
    var d = run(params().build(), HELLO, END);
    assertEquals(FinishReason.STOP, last(d).finishReason());
    assertEquals(END, last(d).stopReason());
  }

  @Test
  void stopTokenIdsStopWithTheIdAsReasonAndTheirTextOnlyWhenIncluded() {
    var d = run(params().stopTokenIds(List.of(BANG)).build(), HELLO, BANG, HELLO);
    assertEquals("Hello", text(d));
    assertEquals(BANG, last(d).stopReason());
    var included = run(params().stopTokenIds(List.of(BANG)).includeStopStrInOutput(true).build(), HELLO, BANG);
    assertEquals("Hello!", text(included));
  }

  @Test
  void ignoreEosKeepsGoingThroughEveryEosButNotThroughStopTokenIds() {
    var d = run(params().ignoreEos(true).stopTokenIds(List.of(BANG)).build(), HELLO, EOS, END, HELLO, BANG);
    assertEquals(5, d.size());
    assertEquals("HelloHello", text(d), "special tokens skipped from the text");
    assertEquals(BANG, last(d).stopReason());
  }

  @Test
  void maxTokensFinishesWithLength() {
    var d = run(params().maxTokens(3).build(), HELLO, HELLO, HELLO, HELLO);
    assertEquals(3, d.size());
    assertEquals(FinishReason.LENGTH, last(d).finishReason());
    assertNull(last(d).stopReason());
    assertEquals(null, d.get(1).finishReason());
  }

  @Test
  void eosOnTheLastAllowedTokenIsAStopNotALength() {
    var d = run(params().maxTokens(2).build(), HELLO, EOS);
    assertEquals(FinishReason.STOP, last(d).finishReason());
  }

  @Test
  void maxModelLenFinishesWithLength() {
    OutputProcessor small = new OutputProcessor(TOKENIZER, List.of(), 4);
    SequenceOutput seq = small.newSequence(0, new int[] {X, X}, params().maxTokens(null).minTokens(5).build());
    assertEquals(null, seq.append(HELLO, null).finishReason());
    assertEquals(FinishReason.LENGTH, seq.append(HELLO, null).finishReason(), "2 prompt + 2 output = max_model_len, even before min_tokens");
  }

  @Test
  void minTokensDefersEveryStop() {
    var d = run(params().minTokens(4).stop("Hello").stopTokenIds(List.of(BANG)).build(),
        HELLO, EOS, BANG, HELLO, HELLO, EOS);
    assertEquals(5, d.size(), "EOS, a stop id and stop strings inside the first 4 tokens do not stop");
    assertEquals("Hello!Hello", text(d), "a stop string completed after min_tokens is cut");
    assertEquals("Hello", last(d).stopReason());
  }

  @Test
  void skipSpecialTokensFalseKeepsSpecialTextOfTokensThatDoNotStop() {
    var d = run(params().ignoreEos(true).skipSpecialTokens(false).maxTokens(2).build(), HELLO, EOS);
    assertEquals("Hello</s>", text(d));
  }

  @Test
  void logprobsAndSequenceIndexAreCarriedIntoDeltas() {
    SequenceOutput seq = OUTPUTS.newSequence(2, new int[] {X}, params().logprobs(0).build());
    TokenLogprob lp = new TokenLogprob(HELLO, -0.5f, List.of());
    CompletionDelta d = seq.append(HELLO, lp);
    assertEquals(2, d.index());
    assertEquals(List.of(lp), d.logprobs());
    assertNull(run(params().build(), HELLO).get(0).logprobs(), "no logprobs asked, none returned");
  }

  @Test
  void accumulatesTextAndTokenIds() {
    SequenceOutput seq = OUTPUTS.newSequence(0, new int[] {X}, params().stop("ld").build());
    seq.append(HELLO, null);
    seq.append(WOR, null);
    seq.append(LD_BANG, null);
    assertEquals("Hello wor", seq.text());
    assertArrayEquals(new int[] {HELLO, WOR, LD_BANG}, seq.tokenIds());
    assertEquals(FinishReason.STOP, seq.finishReason());
    assertEquals("ld", seq.stopReason());
  }

  @Test
  void eosIdsIncludeTokenizerAndGenerationConfig() {
    assertEquals(Set.of(EOS, END), OUTPUTS.eosTokenIds());
  }
}
