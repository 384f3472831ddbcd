export * from './email';
export * from './status';
export * from './delivery-rules';
export * from './errors';
export * from './workflow-input';
export * from './search-attributes';
export * from './tenant';
export * from './campaign';
