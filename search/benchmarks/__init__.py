"""The measurements behind `mnist-search bench`, one module a question; the command prints and saves them."""
