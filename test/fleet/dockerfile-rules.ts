// Static checks of the Dockerfiles (docs/DEPLOY.md, "Images"), for images whose base cannot be pulled here (the
// CUDA worker) as much as for the ones CI builds: the syntax check of `dockerfile-utils`, then the project's rules.
import { DockerfileParser } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';

export interface DockerfileRules {
  /** Targets that run as services: must switch to a non-root user and declare a HEALTHCHECK. */
  serviceTargets: string[];
  /** Targets that must not run as root but serve nothing (jobs). */
  jobTargets?: string[];
}

/** Problems found, one line each (empty when the Dockerfile passes). */
export function lintDockerfile(content: string, rules: DockerfileRules): string[] {
  const problems = validate(content).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  const dockerfile = DockerfileParser.parse(content);
  const args = new Map<string, string | null>();
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty();
    if (property) args.set(property.getName(), property.getValue());
  }
  const froms = dockerfile.getFROMs();
  const stages = new Map<string, { from: string; index: number }>();
  froms.forEach((from, index) => {
    const image = from.getImage() ?? '';
    const stage = from.getBuildStage();
    const argRef = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(image);
    if (!stages.has(image)) {
      // Every base comes in as a build argument (no registry is reachable from every build machine)...
      if (!argRef) problems.push(`FROM ${image}: the base must be a build argument, e.g. FROM \${NODE_BASE}`);
      // ...whose default names a pinned tag, never an implicit or explicit `latest`.
      else {
        const fallback = args.get(argRef[1]);
        if (!fallback) problems.push(`ARG ${argRef[1]} has no default base image`);
        else if (!/:[^:/]+$/.test(fallback) || /:latest$/.test(fallback))
          problems.push(`ARG ${argRef[1]}=${fallback}: pin the base image's tag`);
      }
    }
    if (stage) stages.set(stage, { from: image, index });
  });

  const instructionsOf = (stage: string) => {
    const { index } = stages.get(stage)!;
    const start = froms[index].getRange().start.line;
    const end = index + 1 < froms.length ? froms[index + 1].getRange().start.line : Number.MAX_SAFE_INTEGER;
    return dockerfile.getInstructions().filter((i) => i.getRange().start.line > start && i.getRange().start.line < end);
  };
  /** The stage and its ancestors within this file, nearest first. */
  const lineage = (stage: string): string[] => {
    const chain = [stage];
    for (let parent = stages.get(stage)?.from; parent && stages.has(parent); parent = stages.get(parent)?.from)
      chain.push(parent);
    return chain;
  };
  const last = (stage: string, keyword: string) =>
    lineage(stage)
      .map((s) => instructionsOf(s).filter((i) => i.getKeyword() === keyword))
      .find((found) => found.length > 0)
      ?.at(-1);

  for (const target of [...rules.serviceTargets, ...(rules.jobTargets ?? [])]) {
    if (!stages.has(target)) {
      problems.push(`target ${target} is missing`);
      continue;
    }
    const user = last(target, 'USER')?.getArgumentsContent()?.split(':')[0];
    if (!user || user === 'root' || user === '0') problems.push(`target ${target} runs as root (add USER 10001:10001)`);
    for (const stage of lineage(target)) {
      for (const run of instructionsOf(stage).filter((i) => i.getKeyword() === 'RUN')) {
        const text = run.getArgumentsContent() ?? '';
        // Runtime stages get their node_modules from the build stage, pruned to production: no installs here.
        if (/\bnpm (ci|install|i)\b/.test(text) || /\byarn( install)?\b/.test(text))
          problems.push(`target ${target} installs packages in stage ${stage}; copy the pruned build output instead`);
      }
    }
  }
  for (const target of rules.serviceTargets) {
    if (stages.has(target) && !last(target, 'HEALTHCHECK')) problems.push(`target ${target} has no HEALTHCHECK`);
  }
  const build = stages.has('build') ? instructionsOf('build').map((i) => i.getArgumentsContent() ?? '') : [];
  if (stages.has('build') && !build.some((text) => /npm prune --omit=dev/.test(text)))
    problems.push('the build stage does not prune dev dependencies (npm prune --omit=dev)');
  return problems;
}
