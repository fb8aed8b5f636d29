import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadScalingRule, scaleRuleTime, ScalingController, type ScalingRule } from './scaling-rule';

const rule: ScalingRule = {
  minReplicas: 1,
  maxReplicas: 8,
  targetBacklogPerWorker: 2,
  activationBacklog: 0,
  valueLocation: 'backlog',
  pollingIntervalS: 15,
  cooldownPeriodS: 300,
  scaleUp: { stabilizationWindowS: 0, policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] },
  scaleDown: { stabilizationWindowS: 120, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
  tolerance: 0.1,
};

describe('worker scaling rule', () => {
  it('is read from the KEDA ScaledObject in k8s/base', () => {
    assert.deepEqual(loadScalingRule(), rule);
  });

  it('scales up at once, at most 4 pods per 15 s, up to the maximum', () => {
    const controller = new ScalingController(rule);
    assert.deepEqual(controller.decide(0, 30, 1), { replicas: 5, raw: 8 });
    assert.equal(controller.decide(5, 30, 5).replicas, 5, 'the 4 pods of this period are used up');
    assert.equal(controller.decide(16, 30, 5).replicas, 8);
    assert.equal(controller.decide(31, 100, 8).replicas, 8);
  });

  it('scales down only after the stabilization window, one pod per minute, never below the minimum', () => {
    const controller = new ScalingController(rule);
    controller.decide(0, 16, 8);
    assert.equal(controller.decide(60, 0, 8).replicas, 8, 'within 120 s of a recommendation of 8');
    assert.equal(controller.decide(121, 0, 8).replicas, 7);
    assert.equal(controller.decide(150, 0, 7).replicas, 7, 'one pod per 60 s');
    assert.equal(controller.decide(182, 0, 7).replicas, 6);
    let replicas = 6;
    for (let t = 243; t < 1000; t += 61) replicas = controller.decide(t, 0, replicas).replicas;
    assert.equal(replicas, 1);
  });

  it('ignores changes within the 10 % tolerance', () => {
    const controller = new ScalingController(rule);
    assert.equal(controller.decide(0, 10.5, 5).replicas, 5);
  });

  it('scales to zero only after the cooldown when the minimum is 0', () => {
    const controller = new ScalingController({
      ...rule,
      minReplicas: 0,
      scaleDown: { ...rule.scaleDown, stabilizationWindowS: 0 },
    });
    assert.equal(controller.decide(0, 1, 0).replicas, 1);
    assert.equal(controller.decide(100, 0, 1).replicas, 1);
    assert.equal(controller.decide(301, 0, 1).replicas, 0);
    assert.equal(controller.decide(302, 3, 0).replicas, 2);
  });

  it('compresses every duration by the same factor for the fleet test', () => {
    const fast = scaleRuleTime(rule, 0.1);
    assert.equal(fast.pollingIntervalS, 1.5);
    assert.equal(fast.scaleDown.stabilizationWindowS, 12);
    assert.equal(fast.scaleDown.policies[0].periodSeconds, 6);
    assert.equal(fast.targetBacklogPerWorker, 2);
  });
});
