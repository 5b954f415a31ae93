"""What more than one test module uses: fixtures, builders and waits (a test module never imports another)."""
