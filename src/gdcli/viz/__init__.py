"""Drawing: colours, weights pictures, learning curves, the explanation, the HTML report."""
