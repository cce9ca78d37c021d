"""drupal."""
