#!/usr/bin/env node
console.log("slotlock");
