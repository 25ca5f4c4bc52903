// The analyzer settings of the embedded demo and the end-to-end test: demo/rules.json, the default
// behaviors on a compressed clock (a 12-minute warm-up for a 16-minute capture).

import { bundledFile } from '../contracts/config-files.js';
import { AnalyzerConfigError, loadConfig, type AnalyzerConfig } from '../analyzer/rules.js';

export const DEMO_INTERVAL_SECONDS = 60;

export function demoRulesPath(): string {
  return bundledFile('demo', 'rules.json', (problem) => new AnalyzerConfigError([problem]));
}

export function demoAnalyzerConfig(): AnalyzerConfig {
  return loadConfig(demoRulesPath());
}
