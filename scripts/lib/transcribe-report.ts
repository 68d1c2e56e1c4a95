/**
 * Markdown tables from a bench:transcribe result file (`npm run bench:transcribe -- --report <file>`), so the
 * figures in docs/benchmarks-transcription.md are pasted from the JSON, never typed.
 */

const pct = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '–' : (100 * x).toFixed(1));
const ci = (c: (number | null)[] | undefined) => (c ? `${pct(c[0])}–${pct(c[1])}` : '–');

/** The learning curve and selection tables of one result file, per domain. */
export function transcribeReport(result: any): string {
  const out: string[] = [];
  out.push(`Command: \`${result.command}\` (commit ${result.commit}, started ${result.started}, last run ${result.finished ?? '–'}).`, '');
  const domains: string[] = [...new Set<string>(result.runs.map((r: any) => r.domain))];
  for (const domain of domains) {
    const runs = result.runs.filter((r: any) => r.domain === domain);
    const g0 = runs[0]?.gold;
    out.push(
      `### ${domain}: ${g0?.clips ?? '?'} gold clips, ${g0?.refWords ?? '?'} reference words, ${g0?.audioSeconds ? (g0.audioSeconds / 60).toFixed(1) : '?'} min of audio`,
      '',
    );
    out.push(
      '| model | N | seed | WER % [95 % CI] | CER % [95 % CI] | rel. WER cut | espeak | flite | flite+noise | seen tpl | held-out tpl | rare-word recall % (tokens) | errors in least-conf. 20 % (random / oracle) | word AUC | retrain s (build + load) | CPU-s / audio-s | LibriVox WER % |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const r of runs) {
      const g = r.gold;
      const c = g.errorsInLeastConfident20;
      out.push(
        `| ${r.arm} | ${r.n} | ${r.seed ?? '–'} | ${pct(g.wer)} [${ci(g.werCi95)}] | ${pct(g.cer)} [${ci(g.cerCi95)}] | ${r.relativeWerReduction === null ? '–' : `${pct(r.relativeWerReduction)} %`} | ` +
          `${pct(g.werByCondition.espeak)} | ${pct(g.werByCondition.flite)} | ${pct(g.werByCondition.fliteNoisy)} | ${pct(g.werSeenTemplates)} | ${pct(g.werHeldOutTemplates)} | ` +
          `${pct(g.rareWordRecall.recall)} (${g.rareWordRecall.tokens}) | ${pct(c.lowestConfidence)} (${pct(c.random)} / ${pct(c.oracle)}) | ${g.wordAuc ?? '–'} | ` +
          `${r.retrain ? `${r.retrain.totalSeconds} (${r.retrain.buildSeconds} + ${r.retrain.loadSeconds})` : '–'} | ${g.cpuPerAudioSecond} | ${pct(r.canary?.wer)} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}
