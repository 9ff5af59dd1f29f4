import { useState } from 'react';

type CopyState = { state: 'ready' } | { state: 'copied' } | { state: 'refused'; reason: string };

/**
 * Puts `text` on the clipboard. The Clipboard API needs a secure context (https, or this machine) and the
 * browser's permission; where either is missing the button says so, and the text stays selectable on the page.
 */
export function CopyButton({ text }: { text: string }) {
  const [copy, setCopy] = useState<CopyState>({ state: 'ready' });
  const onClick = () => {
    if (!window.isSecureContext || !('clipboard' in navigator)) {
      setCopy({ state: 'refused', reason: 'no clipboard on a page served over plain HTTP; select the JSON below' });
      return;
    }
    navigator.clipboard.writeText(text).then(
      () => {
        setCopy({ state: 'copied' });
      },
      (error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        setCopy({ state: 'refused', reason: `${reason}; select the JSON below` });
      },
    );
  };
  return (
    <>
      <button
        type="button"
        className="copy"
        onClick={onClick}
        title="Copy the raw JSON"
        data-testid="copy"
        data-state={copy.state}
      >
        {copy.state === 'copied' ? 'Copied' : 'Copy JSON'}
      </button>
      {copy.state === 'refused' && (
        <span className="copy-status small error" role="status">
          Not copied: {copy.reason}
        </span>
      )}
    </>
  );
}
