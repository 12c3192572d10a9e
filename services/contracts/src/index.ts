export * from './money';
export * from './errors';
export * from './ids';
export * from './scalars';
export * from './subjects';
export * from './cloudevents';
export * from './caller';
export * from './pagination';
