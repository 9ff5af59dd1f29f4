/** Wording the command line and the server's commands share, with no dependency of its own. */

/**
 * A refusal of a command's flags (`Unknown option '--prot'`) with where they are listed: the same command with
 * `--help`, however it was started (`switchboard serve`, `npm start --`, `npm run switchboard --`).
 */
export const withFlagsHint = (refusal: string) => `${refusal.replace(/\.$/, '')}; --help lists the options`;
