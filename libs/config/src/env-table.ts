import { ENV_SCHEMA } from './config.schema';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The README's environment table, generated from `ENV_SCHEMA` so docs and validation cannot drift apart. */
export function renderEnvTable(): string {
  const rows = Object.entries(ENV_SCHEMA).map(([name, spec]) => {
    const fallback = spec.default === undefined ? '(unset)' : spec.default === '' ? '(empty)' : `\`${spec.default}\``;
    // Types already escape their own pipes.
    return `| \`${name}\` | ${spec.type} | ${cell(fallback)} | ${cell(spec.doc)} |`;
  });
  return ['| Variable | Type | Default | Description |', '|---|---|---|---|', ...rows].join('\n') + '\n';
}
