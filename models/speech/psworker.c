/*
 * Furrow's pocketsphinx worker: loads the model once, then decodes one clip per stdin line.
 *   in:  {"id":"x","raw":"/abs/clip.raw"}      (16 kHz mono s16le raw PCM)
 *   out: {"id":"x","text":"...","confidence":0.7,"words":[{"word":"w","start":0.1,"end":0.4,"confidence":0.9}],"cpuMs":12}
 *        or {"id":"x","error":"..."}; the first line is {"ready":true} once the model is loaded.
 * Own flags: -lm GENERAL.lm.bin [-lm2 DOMAIN.arpa -w2 0.5] [-xdict EXTRA.dict]; every other flag goes to
 * pocketsphinx (-hmm, -dict, -mllr, -logfn ...). The LM set is built here because the CLI cannot interpolate,
 * and extra words are added to the dictionary before any LM search exists: ps_add_word into a search over the
 * stock trie LM segfaults at decode time (docs/speech-engine.md).
 */
#include <pocketsphinx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static void put_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c == '\n') fputs("\\n", stdout);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

/* The string value of "key" in a one-line JSON object (as JSON.stringify writes it), unescaped into out. */
static int get_json_string(const char *line, const char *key, char *out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(line, pat);
  if (!p) return -1;
  p += strlen(pat);
  while (*p == ' ' || *p == ':') p++;
  if (*p++ != '"') return -1;
  size_t n = 0;
  while (*p && *p != '"') {
    if (n + 4 >= cap) return -1;
    if (*p != '\\') { out[n++] = *p++; continue; } /* UTF-8 bytes pass through */
    p++;
    char e = *p++;
    unsigned cp;
    if (e == 'u') {
      if (sscanf(p, "%4x", &cp) != 1) return -1;
      p += 4;
      if (cp < 0x80) out[n++] = (char)cp;
      else if (cp < 0x800) out[n++] = (char)(0xc0 | cp >> 6), out[n++] = (char)(0x80 | (cp & 0x3f));
      else out[n++] = (char)(0xe0 | cp >> 12), out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f)), out[n++] = (char)(0x80 | (cp & 0x3f));
    } else if (e == 'n') out[n++] = '\n';
    else if (e == 't') out[n++] = '\t';
    else if (e == 'r') out[n++] = '\r';
    else if (e == 'b') out[n++] = '\b';
    else if (e == 'f') out[n++] = '\f';
    else if (e) out[n++] = e;
    else return -1;
  }
  if (*p != '"') return -1;
  out[n] = 0;
  return 0;
}

static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void fail(const char *id, const char *msg) {
  fputs("{\"id\":", stdout); put_json_string(id); fputs(",\"error\":", stdout); put_json_string(msg); puts("}");
  fflush(stdout);
}

static int add_extra_words(ps_decoder_t *ps, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    char *word = strtok(line, " \t\r\n"), *phones = strtok(NULL, "\r\n");
    if (!word || !phones) continue;
    while (*phones == ' ' || *phones == '\t') phones++;
    ps_add_word(ps, word, phones, FALSE); /* -1 = already in the dictionary: keep the stock pronunciation */
  }
  fclose(f);
  return 0;
}

static void decode(ps_decoder_t *ps, const char *id, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { fail(id, "cannot open the audio file"); return; }
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  size_t n = bytes > 0 ? (size_t)bytes / 2 : 0;
  if (n < 160) { fclose(f); fail(id, "the audio file is empty or shorter than 10 ms"); return; }
  int16 *pcm = malloc(n * sizeof(int16));
  size_t got = pcm ? fread(pcm, sizeof(int16), n, f) : 0;
  fclose(f);
  if (got != n) { free(pcm); fail(id, "cannot read the audio file"); return; }
  double t0 = cpu_ms();
  int rv = ps_start_utt(ps);
  if (rv >= 0) rv = ps_process_raw(ps, pcm, n, FALSE, TRUE);
  if (rv >= 0) rv = ps_end_utt(ps);
  free(pcm);
  if (rv < 0) { fail(id, "the decoder rejected the audio"); return; }
  ps_get_hyp(ps, NULL); /* runs the lattice bestpath pass, which fills in the word posteriors */
  logmath_t *lmath = ps_get_logmath(ps);
  char text[65536] = "";
  size_t tlen = 0;
  double sum = 0;
  int words = 0;
  fputs("{\"id\":", stdout); put_json_string(id); fputs(",\"words\":[", stdout);
  for (ps_seg_t *seg = ps_seg_iter(ps); seg; seg = ps_seg_next(seg)) {
    char word[512];
    snprintf(word, sizeof word, "%s", ps_seg_word(seg));
    size_t wl = strlen(word);
    if (word[0] == '<' || word[0] == '[' || word[0] == '+' || wl == 0) continue; /* <s> </s> <sil> [NOISE] ++X++ */
    char *paren = strchr(word, '(');
    if (paren && word[wl - 1] == ')') *paren = 0, wl = strlen(word); /* word(2): alternate pronunciation */
    int sf, ef;
    ps_seg_frames(seg, &sf, &ef);
    double post = logmath_exp(lmath, ps_seg_prob(seg, NULL, NULL, NULL));
    if (post > 1) post = 1; /* logmath's table rounding gives 1.0003 */
    printf("%s{\"word\":", words ? "," : "");
    put_json_string(word);
    printf(",\"start\":%.2f,\"end\":%.2f,\"confidence\":%.4f}", sf / 100.0, (ef + 1) / 100.0, post);
    if (tlen + wl + 2 < sizeof text) tlen += (size_t)sprintf(text + tlen, "%s%s", words ? " " : "", word);
    sum += post;
    words++;
  }
  fputs("],\"text\":", stdout); put_json_string(text);
  printf(",\"confidence\":%.4f,\"cpuMs\":%.0f}\n", words ? sum / words : 0.0, cpu_ms() - t0);
  fflush(stdout);
}

int main(int argc, char **argv) {
  /* Die with the server: a Node process killed without a chance to close its pool (SIGKILL, OOM) must not leave
     workers decoding for nobody. A parent already gone before this call is caught by the getppid check. */
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;
  const char *lm = NULL, *lm2 = NULL, *xdict = NULL;
  float w2 = 0.5f;
  char **rest = calloc((size_t)argc + 1, sizeof(char *));
  int nrest = 0;
  rest[nrest++] = argv[0];
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && !strcmp(argv[i], "-lm")) lm = argv[++i];
    else if (i + 1 < argc && !strcmp(argv[i], "-lm2")) lm2 = argv[++i];
    else if (i + 1 < argc && !strcmp(argv[i], "-w2")) w2 = (float)atof(argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "-xdict")) xdict = argv[++i];
    else rest[nrest++] = argv[i];
  }
  cmd_ln_t *config = cmd_ln_parse_r(NULL, ps_args(), nrest, rest, TRUE);
  ps_decoder_t *ps = config && lm ? ps_init(config) : NULL;
  if (!ps) { fprintf(stderr, "psworker: bad arguments or model (need -hmm, -dict, -lm)\n"); return 2; }
  if (xdict && add_extra_words(ps, xdict) < 0) { fprintf(stderr, "psworker: cannot read %s\n", xdict); return 2; }
  ngram_model_t *models[2];
  char *names[2] = {"general", "domain"};
  float32 weights[2] = {1.0f - w2, w2};
  int nmodels = 0;
  models[nmodels++] = ngram_model_read(config, lm, NGRAM_AUTO, ps_get_logmath(ps));
  if (lm2) models[nmodels++] = ngram_model_read(config, lm2, NGRAM_AUTO, ps_get_logmath(ps));
  for (int i = 0; i < nmodels; i++)
    if (!models[i]) { fprintf(stderr, "psworker: cannot read language model %s\n", i ? lm2 : lm); return 2; }
  ngram_model_t *set = ngram_model_set_init(config, models, names, weights, nmodels);
  if (!set || ps_set_lm(ps, "mix", set) < 0 || ps_set_search(ps, "mix") < 0) {
    fprintf(stderr, "psworker: cannot set up the language model\n");
    return 2;
  }
  puts("{\"ready\":true}");
  fflush(stdout);
  static char line[1 << 16], id[4096], path[1 << 14];
  while (fgets(line, sizeof line, stdin)) {
    if (line[0] == '\n') continue;
    if (get_json_string(line, "id", id, sizeof id) < 0) strcpy(id, "");
    if (get_json_string(line, "raw", path, sizeof path) < 0) { fail(id, "the request needs \"id\" and \"raw\" strings"); continue; }
    decode(ps, id, path);
  }
  ps_free(ps);
  return 0;
}
