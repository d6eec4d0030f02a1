import { openMemory } from '../../storage/memory/memory.js';
import { runStorageConformance } from './conformance.js';

runStorageConformance('memory storage', openMemory);
