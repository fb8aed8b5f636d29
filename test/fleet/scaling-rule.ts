// The worker scaling rule, read from the KEDA ScaledObject in k8s/base (the one definition), and the HPA algorithm
// KEDA hands it to, so the fleet test's autoscaler loop scales exactly as the cluster would (docs/DEPLOY.md,
// "Autoscaling").
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

// Compiled to test/dist/fleet: the repository root is three levels up.
export const REPO_ROOT = join(__dirname, '..', '..', '..');
export const SCALED_OBJECT_FILE = join(REPO_ROOT, 'k8s', 'base', 'worker-scaledobject.yaml');

interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface ScalingRule {
  minReplicas: number;
  maxReplicas: number;
  /** Backlog one worker is meant to hold (the metrics-api trigger's targetValue, AverageValue). */
  targetBacklogPerWorker: number;
  /** Above this the pool is active (scale from zero); KEDA's activationTargetValue. */
  activationBacklog: number;
  /** The JSON field of GET /internal/scaling the rule reads. */
  valueLocation: string;
  pollingIntervalS: number;
  /** Idle time before scaling to zero (only when minReplicas is 0). */
  cooldownPeriodS: number;
  scaleUp: { stabilizationWindowS: number; policies: ScalingPolicy[] };
  scaleDown: { stabilizationWindowS: number; policies: ScalingPolicy[] };
  /** The HPA's default: no change while desired/current is within 1 ± tolerance. */
  tolerance: number;
}

interface ScaledObjectSpec {
  pollingInterval?: number;
  cooldownPeriod?: number;
  minReplicaCount?: number;
  maxReplicaCount?: number;
  advanced?: {
    horizontalPodAutoscalerConfig?: {
      behavior?: Record<
        'scaleUp' | 'scaleDown',
        { stabilizationWindowSeconds?: number; policies?: ScalingPolicy[] } | undefined
      >;
    };
  };
  triggers: Array<{ type: string; metricType?: string; metadata: Record<string, string> }>;
}

/** Reads the rule out of the ScaledObject's YAML text; defaults are KEDA's and the HPA's documented ones. */
export function parseScalingRule(yamlText: string): ScalingRule {
  const objects = parseAllDocuments(yamlText).map((doc) => doc.toJS() as { kind?: string; spec?: ScaledObjectSpec });
  const scaled = objects.find((o) => o.kind === 'ScaledObject');
  if (!scaled?.spec) throw new Error('no ScaledObject in the worker scaling file');
  const spec = scaled.spec;
  const trigger = spec.triggers.find((t) => t.type === 'metrics-api');
  if (!trigger) throw new Error('the ScaledObject has no metrics-api trigger');
  if ((trigger.metricType ?? 'AverageValue') !== 'AverageValue') throw new Error('the rule expects AverageValue');
  const behavior = spec.advanced?.horizontalPodAutoscalerConfig?.behavior;
  return {
    minReplicas: spec.minReplicaCount ?? 0,
    maxReplicas: spec.maxReplicaCount ?? 100,
    targetBacklogPerWorker: Number(trigger.metadata.targetValue),
    activationBacklog: Number(trigger.metadata.activationTargetValue ?? 0),
    valueLocation: trigger.metadata.valueLocation,
    pollingIntervalS: spec.pollingInterval ?? 30,
    cooldownPeriodS: spec.cooldownPeriod ?? 300,
    scaleUp: {
      stabilizationWindowS: behavior?.scaleUp?.stabilizationWindowSeconds ?? 0,
      policies: behavior?.scaleUp?.policies ?? [{ type: 'Pods', value: 4, periodSeconds: 15 }],
    },
    scaleDown: {
      stabilizationWindowS: behavior?.scaleDown?.stabilizationWindowSeconds ?? 300,
      policies: behavior?.scaleDown?.policies ?? [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    },
    tolerance: 0.1,
  };
}

export function loadScalingRule(file = SCALED_OBJECT_FILE): ScalingRule {
  return parseScalingRule(readFileSync(file, 'utf8'));
}

/** A scaling decision at one poll: what the HPA would set and why. */
export interface ScaleDecision {
  replicas: number;
  /** ceil(metric / target) before stabilization and rate limits. */
  raw: number;
}

/**
 * KEDA + HPA v2 for one AverageValue metric, one poll at a time. Times are in seconds of the rule's clock (the
 * fleet test runs it on a scaled clock: every duration multiplied by the same factor).
 */
export class ScalingController {
  private readonly recommendations: Array<{ at: number; replicas: number }> = [];
  private readonly changes: Array<{ at: number; delta: number }> = [];
  private lastActiveAt = Number.NEGATIVE_INFINITY;

  constructor(readonly rule: ScalingRule) {}

  decide(now: number, metric: number, current: number): ScaleDecision {
    const rule = this.rule;
    if (metric > rule.activationBacklog) this.lastActiveAt = now;
    // Scale to zero only after the cooldown with nothing above the activation value (KEDA's part).
    if (rule.minReplicas === 0 && now - this.lastActiveAt >= rule.cooldownPeriodS) return { replicas: 0, raw: 0 };
    const floor = Math.max(rule.minReplicas, 1);
    let raw = Math.ceil(metric / rule.targetBacklogPerWorker);
    // The HPA's tolerance: a ratio within 1 ± 0.1 of the current size changes nothing.
    if (current > 0 && Math.abs(metric / (rule.targetBacklogPerWorker * current) - 1) <= rule.tolerance) raw = current;
    raw = Math.min(rule.maxReplicas, Math.max(floor, raw));
    this.recommendations.push({ at: now, replicas: raw });
    const horizon = Math.max(rule.scaleUp.stabilizationWindowS, rule.scaleDown.stabilizationWindowS);
    while (this.recommendations.length > 0 && this.recommendations[0].at < now - horizon) this.recommendations.shift();

    let target = raw;
    if (raw > current) {
      // Scale up to the smallest recommendation within the up-window, at most the policy's pods per period.
      const window = this.within(now, rule.scaleUp.stabilizationWindowS);
      target = Math.max(current, Math.min(...window));
      target = Math.min(target, current + this.allowance(now, rule.scaleUp.policies, current, +1));
    } else if (raw < current) {
      // Scale down only to the largest recommendation within the down-window, at most the policy's pods per period.
      const window = this.within(now, rule.scaleDown.stabilizationWindowS);
      target = Math.min(current, Math.max(...window));
      target = Math.max(target, current - this.allowance(now, rule.scaleDown.policies, current, -1));
    }
    if (target !== current) this.changes.push({ at: now, delta: target - current });
    return { replicas: target, raw };
  }

  private within(now: number, windowS: number): number[] {
    return this.recommendations.filter((r) => r.at >= now - windowS).map((r) => r.replicas);
  }

  /** Pods the policies still allow in this direction (the most permissive policy wins, as selectPolicy Max). */
  private allowance(now: number, policies: ScalingPolicy[], current: number, direction: 1 | -1): number {
    return Math.max(
      ...policies.map((policy) => {
        const used = this.changes
          .filter((c) => c.at > now - policy.periodSeconds && Math.sign(c.delta) === direction)
          .reduce((sum, c) => sum + Math.abs(c.delta), 0);
        const limit = policy.type === 'Pods' ? policy.value : Math.ceil((current * policy.value) / 100);
        return Math.max(0, limit - used);
      }),
    );
  }
}

/** The rule with every duration multiplied by `factor` (the fleet test's compressed clock). */
export function scaleRuleTime(rule: ScalingRule, factor: number): ScalingRule {
  const policies = (list: ScalingPolicy[]) => list.map((p) => ({ ...p, periodSeconds: p.periodSeconds * factor }));
  return {
    ...rule,
    pollingIntervalS: rule.pollingIntervalS * factor,
    cooldownPeriodS: rule.cooldownPeriodS * factor,
    scaleUp: {
      stabilizationWindowS: rule.scaleUp.stabilizationWindowS * factor,
      policies: policies(rule.scaleUp.policies),
    },
    scaleDown: {
      stabilizationWindowS: rule.scaleDown.stabilizationWindowS * factor,
      policies: policies(rule.scaleDown.policies),
    },
  };
}
