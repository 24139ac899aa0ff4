"""First-party zoo plugins: each subpackage registers one model family through `zoo.plugins`."""
