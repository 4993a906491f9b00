#!/usr/bin/env node
// Merge several results/<stamp>.json files into one report (a later file's peer replaces an
// earlier one with the same spec; the last "limit" wins). Useful when a peer is re-run alone.
//   node src/merge.js results/A.json results/B.json [> merged.md]
import { readFileSync, writeFileSync } from 'node:fs';
import { ratioTable, renderMarkdown } from './report.js';

const files = process.argv.slice(2);
if (!files.length) {
  console.error('usage: node src/merge.js results/<stamp>.json ...');
  process.exit(2);
}
let merged = null;
for (const f of files) {
  const r = JSON.parse(readFileSync(f, 'utf8'));
  if (!merged) {
    merged = { ...r, peers: [], sources: [] };
  }
  merged.sources.push(f);
  for (const p of r.peers || []) {
    const i = merged.peers.findIndex((q) => q.peer === p.peer);
    // Same peer in a later file: its workloads replace the earlier file's workloads of the same name.
    if (i >= 0) merged.peers[i] = { ...merged.peers[i], ...p, workloads: { ...merged.peers[i].workloads, ...p.workloads } };
    else merged.peers.push(p);
  }
  if (r.limit) {
    merged.limit = r.limit;
    merged.options.limit = r.options.limit;
  }
}
merged.ratios = ratioTable(merged);
const md = `${renderMarkdown(merged)}\nMerged from: ${merged.sources.join(', ')}\n`;
writeFileSync(new URL('../results/merged.json', import.meta.url), JSON.stringify(merged, null, 2));
console.log(md);
