/** Entry: set the theme before the first paint, then render the app. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app';
import { applyInitialTheme } from './lib/theme';
import './styles/base.css';
import './styles/components.css';
import './styles/pages.css';

applyInitialTheme();
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
