#!/usr/bin/env node
'use strict';
// Thin shim so the bin link exists before the first build; the CLI itself is compiled TypeScript.
require('../dist/main.js');
