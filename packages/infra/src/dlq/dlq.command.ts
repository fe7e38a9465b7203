import { parseArgs } from 'node:util';
import type { DeadLetter, EventBus } from '../bus/bus.ts';

export const DLQ_USAGE = `usage: npm run dlq -- <list|replay|drop> [--stream S] [--durable D] [--id N | --all] [--json]
  list     dead letters (all streams of DEPLOYMENT_PREFIX, or those of --stream / --durable), oldest first
  replay   publish the original event again to its subject (idempotent) and delete the dead letter
  drop     delete the dead letter
  replay and drop need --id N (the id list shows; with --stream if several streams have it) or --all`;

export class DlqUsageError extends Error {
  constructor(message: string) {
    super(`${message}\n${DLQ_USAGE}`);
    this.name = 'DlqUsageError';
  }
}

function describe(letter: DeadLetter): string {
  const tries = `${letter.tries.poison} poison + ${letter.tries.transient} transient tries`;
  // One line per dead letter, whatever the error message looked like (Prisma's span several lines).
  const reason = letter.reason.replace(/\s+/g, ' ');
  return `${letter.stream} #${letter.id}  ${letter.durable}  ${letter.subject}  ${letter.deadLetteredAt}  ${tries}  ${reason}`;
}

/**
 * `npm run dlq`: lists, replays and drops the dead letters of the deployment the bus belongs to. Writes its
 * report with `print`, one line per dead letter; throws DlqUsageError on bad arguments.
 */
export async function runDlqCommand(argv: string[], bus: EventBus, print: (line: string) => void): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        stream: { type: 'string' },
        durable: { type: 'string' },
        id: { type: 'string' },
        all: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new DlqUsageError((error as Error).message);
  }
  const { positionals, values } = parsed;
  const [action, ...extra] = positionals;
  if (!action || !['list', 'replay', 'drop'].includes(action) || extra.length > 0) {
    throw new DlqUsageError(action ? `unknown command: ${[action, ...extra].join(' ')}` : 'no command given');
  }
  const letters = await bus.deadLetters({ stream: values.stream, durable: values.durable });
  if (action === 'list') {
    if (values.json) for (const letter of letters) print(JSON.stringify(letter));
    else {
      for (const letter of letters) print(describe(letter));
      print(`${letters.length} dead letter(s)`);
    }
    return;
  }
  if (values.all === (values.id !== undefined)) throw new DlqUsageError(`${action} needs either --id N or --all`);
  let chosen = letters;
  if (values.id !== undefined) {
    const id = Number(values.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new DlqUsageError(`--id must be a positive integer`);
    chosen = letters.filter((l) => l.id === id);
    if (chosen.length > 1) throw new DlqUsageError(`several streams have a dead letter #${id}: name one with --stream`);
    if (chosen.length === 0) throw new DlqUsageError(`no dead letter #${id}`);
  }
  let done = 0;
  for (const letter of chosen) {
    const ok =
      action === 'replay'
        ? await bus.replayDeadLetter(letter.stream, letter.id)
        : await bus.dropDeadLetter(letter.stream, letter.id);
    if (!ok) continue;
    done++;
    print(`${action === 'replay' ? 'replayed' : 'dropped'} ${describe(letter)}`);
  }
  print(`${done} dead letter(s) ${action === 'replay' ? 'replayed' : 'dropped'}`);
}
