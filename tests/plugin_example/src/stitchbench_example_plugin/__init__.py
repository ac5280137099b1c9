"""An example stitchbench plugin package: one scenario, one architecture, one problem family, one solver."""
