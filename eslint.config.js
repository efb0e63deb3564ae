import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // wasm/ holds AssemblyScript (compiled by npm run build:wasm), which is not TypeScript.
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'bench/results/**', 'wasm/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
      'max-depth': ['error', 4],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: { 'max-lines-per-function': 'off' },
  },
);
