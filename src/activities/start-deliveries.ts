import type { DeliveryService } from '../deliveries/service';

export interface StarterDeps {
  deliveries: Pick<DeliveryService, 'startStored'>;
}

/** The activity of a batch's durable starter: starts the workflows of its emails still waiting for theirs. */
export function createStarterActivities({ deliveries }: StarterDeps) {
  return {
    async startStoredDeliveries(emailIds: string[]): Promise<number> {
      return deliveries.startStored(emailIds);
    },
  };
}

export type StarterActivities = ReturnType<typeof createStarterActivities>;
