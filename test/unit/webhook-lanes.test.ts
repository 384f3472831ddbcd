import { WebhookLanes } from '../../src/workflows/webhook-lanes';

// A dispatcher's lanes: one email's deliveries one after the other, several emails at once.

const d = (id: string, lane: string) => ({ id, lane });

test("an email's deliveries go one after the other; other emails' go beside them, up to the concurrency", () => {
  const lanes = new WebhookLanes(2, 10);
  for (const x of [d('1', 'a'), d('2', 'a'), d('3', 'b'), d('4', 'c')]) lanes.add(x);
  expect(lanes.start()).toEqual([d('1', 'a'), d('3', 'b')]);
  expect(lanes.start()).toEqual([]); // both slots busy, and lane a's next waits for 1
  lanes.finish(d('3', 'b'));
  expect(lanes.start()).toEqual([d('4', 'c')]);
  lanes.finish(d('1', 'a'));
  expect(lanes.start()).toEqual([d('2', 'a')]);
  lanes.finish(d('4', 'c'));
  lanes.finish(d('2', 'a'));
  expect(lanes.idle()).toBe(true);
});

test('room, the ids held (left out of the next claim), and a new delivery joining a busy lane', () => {
  const lanes = new WebhookLanes(1, 3);
  lanes.add(d('1', 'a'));
  lanes.add(d('2', 'b'));
  expect(lanes.room()).toBe(1);
  expect(lanes.start()).toEqual([d('1', 'a')]);
  lanes.add(d('5', 'a'));
  expect(lanes.room()).toBe(0);
  expect(lanes.ids().sort()).toEqual(['1', '2', '5']);
  lanes.finish(d('1', 'a'));
  // Lane a was opened first: it goes on before lane b.
  expect(lanes.start()).toEqual([d('5', 'a')]);
});

test('finishing something not at the head of its lane changes nothing; dropping keeps what runs', () => {
  const lanes = new WebhookLanes(2, 10);
  for (const x of [d('1', 'a'), d('2', 'a'), d('3', 'b')]) lanes.add(x);
  lanes.finish(d('2', 'a'));
  expect(lanes.ids()).toEqual(['1', '2', '3']);
  expect(lanes.start()).toEqual([d('1', 'a'), d('3', 'b')]);
  lanes.add(d('4', 'c'));
  lanes.dropWaiting();
  expect(lanes.ids()).toEqual(['1', '3']);
  lanes.finish(d('1', 'a'));
  lanes.finish(d('3', 'b'));
  expect(lanes.idle()).toBe(true);
  expect(lanes.room()).toBe(10);
});
