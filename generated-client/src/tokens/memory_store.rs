//! `MemoryTokenStore`: the tokens in memory, for tests and short-lived
//! programs. Its lock is an async mutex, so clients in one process that share
//! one store coordinate as processes sharing a file do.

use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::tokens::store::{StoreFuture, StoredTokens, TokenLease, TokenStore};

/// Keeps the tokens in memory only. Clones share the tokens.
#[derive(Debug, Default, Clone)]
pub struct MemoryTokenStore {
    tokens: Arc<Mutex<Option<StoredTokens>>>,
}

impl MemoryTokenStore {
    /// A store holding `tokens`, for tests.
    pub fn new(tokens: StoredTokens) -> Self {
        Self {
            tokens: Arc::new(Mutex::new(Some(tokens))),
        }
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> StoreFuture<'_, Option<StoredTokens>> {
        Box::pin(async move { Ok(self.tokens.lock().await.clone()) })
    }

    fn lock(&self) -> StoreFuture<'_, Box<dyn TokenLease>> {
        Box::pin(async move {
            let guard = self.tokens.clone().lock_owned().await;
            Ok(Box::new(MemoryLease(guard)) as Box<dyn TokenLease>)
        })
    }

    fn location(&self) -> String {
        "in memory".into()
    }
}

struct MemoryLease(OwnedMutexGuard<Option<StoredTokens>>);

impl TokenLease for MemoryLease {
    fn tokens(&self) -> Option<&StoredTokens> {
        self.0.as_ref()
    }

    fn reload(&mut self) -> StoreFuture<'_, Option<StoredTokens>> {
        let tokens = self.0.clone();
        Box::pin(async move { Ok(tokens) })
    }

    fn save(mut self: Box<Self>, tokens: StoredTokens) -> StoreFuture<'static, ()> {
        *self.0 = Some(tokens);
        Box::pin(async { Ok(()) })
    }

    fn release(self: Box<Self>) -> StoreFuture<'static, ()> {
        Box::pin(async { Ok(()) })
    }
}
