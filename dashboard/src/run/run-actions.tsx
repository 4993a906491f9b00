/**
 * Cancel / Retry / Replay, each enabled only in the states where the server
 * accepts it, each behind a confirm dialog. Replay opens the new run.
 */
import { useState } from 'react';
import { api } from '../api/client';
import { type Run, TERMINAL_TYPES } from '../api/types';
import { ConfirmDialog } from '../components/modal';
import { navigate } from '../lib/router';

type Action = 'cancel' | 'retry' | 'replay';

export function runActionsFor(run: Pick<Run, 'state'>): Record<Action, boolean> {
  const type = run.state.type;
  const isTerminal = TERMINAL_TYPES.includes(type);
  return {
    cancel: !isTerminal && type !== 'CANCELLING',
    retry: type === 'FAILED' || type === 'CRASHED' || type === 'CANCELLED',
    replay: isTerminal,
  };
}

const COPY: Record<Action, { label: string; title: string; message: string; confirm: string }> = {
  cancel: {
    label: 'Cancel',
    title: 'Cancel this run?',
    message: 'A running attempt is asked to stop (ctx.signal aborts) and the run ends Cancelled.',
    confirm: 'Cancel run',
  },
  retry: {
    label: 'Retry',
    title: 'Retry this run?',
    message: 'The same run goes back to the queue for a new attempt, with the same input.',
    confirm: 'Retry',
  },
  replay: {
    label: 'Replay',
    title: 'Replay this run?',
    message: 'A new run starts with the same task and input. This run stays as it is.',
    confirm: 'Replay',
  },
};

export function RunActions({ run, canWrite, onDone }: { run: Run; canWrite: boolean; onDone: () => void }) {
  const [open, setOpen] = useState<Action | undefined>(undefined);
  const [reason, setReason] = useState('');
  const enabled = runActionsFor(run);

  const perform = async (action: Action) => {
    const path = `runs/${encodeURIComponent(run.id)}/${action}`;
    const body = action === 'cancel' && reason.trim() !== '' ? { reason: reason.trim() } : {};
    const result = await api.post<{ id: string }>(path, body);
    if (action === 'replay' && result?.id && result.id !== run.id) navigate(`/runs/${encodeURIComponent(result.id)}`);
    else onDone();
  };

  return (
    <>
      <div className="button-row">
        {(['cancel', 'retry', 'replay'] as const).map((action) => (
          <button
            key={action}
            type="button"
            className={`button ${action === 'cancel' ? 'button-danger-outline' : ''}`}
            data-testid={`action-${action}`}
            disabled={!canWrite || !enabled[action]}
            title={canWrite ? undefined : 'This token may only read'}
            onClick={() => {
              setReason('');
              setOpen(action);
            }}
          >
            {COPY[action].label}
          </button>
        ))}
      </div>
      {open && (
        <ConfirmDialog
          title={COPY[open].title}
          message={COPY[open].message}
          confirmLabel={COPY[open].confirm}
          isDanger={open === 'cancel'}
          onClose={() => setOpen(undefined)}
          onConfirm={() => perform(open)}
        >
          {open === 'cancel' && (
            <label className="field">
              <span>Reason (optional)</span>
              <input
                className="input"
                data-testid="cancel-reason"
                value={reason}
                onChange={(e) => setReason(e.target.value)}
                placeholder="cancelled"
              />
            </label>
          )}
        </ConfirmDialog>
      )}
    </>
  );
}
