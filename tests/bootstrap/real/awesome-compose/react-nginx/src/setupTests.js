// jest-dom adds custom jest matchers for asserting on DOM nodes.
