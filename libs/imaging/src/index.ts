export * from './rgb-image';
export * from './image-io';
export * from './preview-jpeg';
