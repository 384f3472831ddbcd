export * from './status';
export * from './errors';
export * from './delivery';
export * from './search-attributes';
