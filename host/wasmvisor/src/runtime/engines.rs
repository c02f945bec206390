//! A host's family of engines: the default one, and one more for each other
//! WebAssembly stack size some plugin's limits ask for, created on first
//! use, each with its linker (see `engine` and `linker`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::engine::{Engine, EngineSettings};
use super::linker::LinkedEngine;
use crate::spec::Limits;
use crate::util::lock;

/// A host's engines: one per WebAssembly stack size in use. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Engines {
    settings: Arc<EngineSettings>,
    by_stack: Arc<Mutex<BTreeMap<usize, LinkedEngine>>>,
    default: LinkedEngine,
}

impl Engines {
    /// The default engine (for the default stack size) on `settings`.
    pub(crate) fn new(settings: EngineSettings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let stack = Limits::default().wasm_stack_bytes;
        let default = LinkedEngine::new(Engine::new(settings.clone(), stack)?)?;
        Ok(Engines {
            settings,
            by_stack: Arc::new(Mutex::new(BTreeMap::from([(stack, default.clone())]))),
            default,
        })
    }

    /// The engine plugins are compiled with when they are loaded.
    pub(crate) fn default_engine(&self) -> &LinkedEngine {
        &self.default
    }

    /// The engine whose guests get `stack_bytes` of WebAssembly stack,
    /// created on first use.
    pub(crate) fn for_stack(&self, stack_bytes: usize) -> anyhow::Result<LinkedEngine> {
        let mut engines = lock(&self.by_stack);
        if let Some(engine) = engines.get(&stack_bytes) {
            return Ok(engine.clone());
        }
        let engine = LinkedEngine::new(Engine::new(self.settings.clone(), stack_bytes)?)?;
        engines.insert(stack_bytes, engine.clone());
        Ok(engine)
    }

    /// The settings every engine of the family shares.
    pub(crate) fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Whether `engine` is one of this family's.
    pub(crate) fn owns(&self, engine: &Engine) -> bool {
        Arc::ptr_eq(&self.settings, engine.settings())
    }
}
