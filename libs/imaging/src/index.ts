export * from './rgb-image';
export * from './image-io';
