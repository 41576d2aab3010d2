import { render, screen } from '@testing-library/react';
