// Builds the dashboard once (npm start serves it); later starts reuse dist/dashboard.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../dist/dashboard/index.html', import.meta.url))) {
  console.log('building the dashboard (once)…');
  execFileSync('npm', ['run', 'build:dashboard', '--silent'], { stdio: 'inherit' });
}
