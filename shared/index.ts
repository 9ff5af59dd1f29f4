export * from './errors.js';
export * from './events.js';
export * from './inputs.js';
export * from './issues.js';
export * from './limits.js';
export * from './topics.js';
export * from './transformer.js';
export * from './catalogue.js';
