//! `#[fallback]`: replace a failed call's result, with `value = expr` or with
//! `method = path` (called with the same arguments and then the error). `on`
//! picks the errors to replace. A fallback also replaces the rejections of the
//! policies below it, here a rate limiter's.
//!
//! `cargo run --example fallback` (all sync: no runtime needed)

use std::collections::HashMap;

use resilience_runtime::{fallback, rate_limiter};

#[derive(Debug, thiserror::Error)]
enum ShopError {
    #[error("pricing service unavailable")]
    Unavailable,
    #[error("no product {0:?}")]
    NoSuchProduct(String),
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

impl ShopError {
    fn is_outage(&self) -> bool {
        !matches!(self, ShopError::NoSuchProduct(_))
    }
}

struct Shop {
    pricing_up: bool,
    last_known_prices: HashMap<&'static str, u32>,
}

impl Shop {
    /// A method: the fallback is `Self::cached_price`, called with `self` too.
    #[fallback(method = Self::cached_price, on = ShopError::is_outage)]
    fn price(&self, product: &str) -> Result<u32, ShopError> {
        match product {
            "kettle" if self.pricing_up => Ok(3_450),
            "kettle" => Err(ShopError::Unavailable),
            _ => Err(ShopError::NoSuchProduct(product.to_owned())),
        }
    }

    fn cached_price(&self, product: &str, error: ShopError) -> Result<u32, ShopError> {
        println!("    cached_price({product:?}) after: {error}");
        self.last_known_prices.get(product).copied().ok_or(error)
    }
}

#[fallback(value = vec!["bestsellers".to_owned()])]
#[rate_limiter(max_tokens = 1, refill_rate = 0.1)]
fn recommendations(user: &str) -> Result<Vec<String>, ShopError> {
    Ok(vec![format!("picked for {user}")])
}

fn main() {
    let shop = Shop {
        pricing_up: false,
        last_known_prices: HashMap::from([("kettle", 3_400)]),
    };
    println!("Pricing is down; `method` serves the last known price:");
    println!("  {:?}", shop.price("kettle"));
    println!("A product nobody sells is not an outage; `on` lets the error through:");
    println!("  {:?}", shop.price("teapot"));

    println!("The rate limiter allows one call; `value` replaces its rejection:");
    println!("  {:?}", recommendations("ada"));
    println!("  {:?}", recommendations("ada"));
}
