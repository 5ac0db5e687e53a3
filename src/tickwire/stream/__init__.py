"""The provider-neutral stream engine: session contract, subscriptions, driver, queue, metrics, consumer."""
