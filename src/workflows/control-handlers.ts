import { setHandler } from '@temporalio/workflow';
import type { DeliveryState } from './delivery-state';
import { CONTROL_NAMES, CONTROL_SIGNALS, CONTROL_UPDATES, cancelRequestedSignal, stateQuery, type ControlRequest } from './messages';

/**
 * Answers the `state` query and every control of a delivery: each as a validated update (it
 * answers) and as a signal (it can be batched). `afterApply` runs after each applied control.
 */
export function handleControls(state: DeliveryState, afterApply: () => void): void {
  setHandler(stateQuery, () => state.view());
  setHandler(cancelRequestedSignal, (req: ControlRequest) => state.requestCancel(req));
  for (const name of CONTROL_NAMES) {
    const control = state.controls[name] as (typeof state.controls)['pause'];
    const apply = (req?: ControlRequest) => {
      control.apply(req);
      afterApply();
    };
    setHandler(CONTROL_UPDATES[name] as (typeof CONTROL_UPDATES)['pause'], (req) => (apply(req), state.view()), {
      validator: control.validate,
    });
    setHandler(CONTROL_SIGNALS[name] as (typeof CONTROL_SIGNALS)['pause'], (req) => {
      if (state.accepts(control, req)) apply(req);
    });
  }
}
