// The CLI is a program (bin/step1x.js); the golden checks it runs live in libs/golden-checks.
export {};
