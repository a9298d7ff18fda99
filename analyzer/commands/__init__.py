"""One module per `image-factory` subcommand; each exposes a click command named `command`."""
