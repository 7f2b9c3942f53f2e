// expect-sync values to kernel / user-space helper names, the legacy Vyatta mapping (vyos-1x passes
// h323, nfs and sqlnet through verbatim, and they match no helper), and conntrackd's match rule.
import type { Config, ExpectProtocol } from './schema.ts';

export const EXPECT_HELPERS: Readonly<Record<Exclude<ExpectProtocol, 'all'>, readonly string[]>> = {
  ftp: ['ftp'],
  h323: ['RAS', 'Q.931', 'H.245'],
  nfs: ['rpc'],
  sip: ['sip'],
  sqlnet: ['tns'],
};

/** Helper-name prefixes to sync, 'all' for every helper, [] when expect-sync is off. */
export function expectHelperNames(config: Pick<Config, 'expectSync'>): string[] | 'all' {
  if (config.expectSync.includes('all')) return 'all';
  const out: string[] = [];
  for (const p of config.expectSync) {
    if (p === 'all') continue;
    for (const h of EXPECT_HELPERS[p]) if (!out.includes(h)) out.push(h);
  }
  return out;
}

/**
 * Whether an expectation created by `helperName` is synced: conntrackd's exp_filter_find rule, a
 * case-insensitive prefix match of each configured name against the helper name ("sip" matches
 * "sip-5060"). With `all` there is no filter and every expectation passes; with a list, an
 * expectation without a helper name never matches.
 */
export function expectHelperMatches(config: Pick<Config, 'expectSync'>, helperName: string | undefined): boolean {
  const names = expectHelperNames(config);
  if (names === 'all') return true;
  if (!helperName) return false;
  const h = helperName.toLowerCase();
  return names.some((n) => h.startsWith(n.toLowerCase()));
}
